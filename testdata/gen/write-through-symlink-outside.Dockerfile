FROM scratch
ADD write-through-symlink-outside.tar /
CMD ["/bin/sh"]
