FROM scratch
ADD compress-xz.tar.xz /
CMD ["/bin/sh"]
