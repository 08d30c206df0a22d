FROM scratch
ADD dir-replaced-by-symlink-write-through.tar /
CMD ["/bin/sh"]
