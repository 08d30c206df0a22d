FROM scratch
ADD ordering-trap.tar /
CMD ["/bin/sh"]
