FROM scratch
ADD uid-1000-owner.tar /
CMD ["/bin/sh"]
