FROM scratch
ADD not-a-tar.tar.gz /
CMD ["/bin/sh"]
