FROM scratch
ADD mtime-far-future.tar /
CMD ["/bin/sh"]
