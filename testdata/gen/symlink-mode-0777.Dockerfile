FROM scratch
ADD symlink-mode-0777.tar /
CMD ["/bin/sh"]
