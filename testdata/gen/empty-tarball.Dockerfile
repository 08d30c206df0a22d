FROM scratch
ADD empty-tarball.tar /
CMD ["/bin/sh"]
