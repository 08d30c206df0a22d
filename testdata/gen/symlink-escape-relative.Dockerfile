FROM scratch
ADD symlink-escape-relative.tar /
CMD ["/bin/sh"]
