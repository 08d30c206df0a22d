FROM scratch
ADD dir-times-reapplied.tar /
CMD ["/bin/sh"]
