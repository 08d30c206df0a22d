FROM scratch
ADD hardlink-to-symlink.tar /
CMD ["/bin/sh"]
