FROM scratch
ADD compress-bzip2.tar.bz2 /
CMD ["/bin/sh"]
