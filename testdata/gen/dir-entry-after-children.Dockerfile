FROM scratch
ADD dir-entry-after-children.tar /
CMD ["/bin/sh"]
