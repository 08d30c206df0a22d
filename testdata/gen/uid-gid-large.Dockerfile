FROM scratch
ADD uid-gid-large.tar /
CMD ["/bin/sh"]
