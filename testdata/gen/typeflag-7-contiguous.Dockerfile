FROM scratch
ADD typeflag-7-contiguous.tar /
CMD ["/bin/sh"]
