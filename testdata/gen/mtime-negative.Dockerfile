FROM scratch
ADD mtime-negative.tar /
CMD ["/bin/sh"]
