FROM scratch
ADD long-symlink-target.tar /
CMD ["/bin/sh"]
