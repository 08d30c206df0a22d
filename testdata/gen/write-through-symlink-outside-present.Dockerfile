FROM scratch
ADD write-through-symlink-outside-present.tar /
CMD ["/bin/sh"]
