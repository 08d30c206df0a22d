FROM scratch
ADD mtime-fractional-pax.tar /
CMD ["/bin/sh"]
