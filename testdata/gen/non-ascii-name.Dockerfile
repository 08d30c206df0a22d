FROM scratch
ADD non-ascii-name.tar /
CMD ["/bin/sh"]
