FROM scratch
ADD hardlink-to-directory.tar /
CMD ["/bin/sh"]
