FROM scratch
ADD trailing-garbage-after-end.tar /
CMD ["/bin/sh"]
