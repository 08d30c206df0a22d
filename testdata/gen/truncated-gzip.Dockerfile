FROM scratch
ADD truncated-gzip.tar.gz /
CMD ["/bin/sh"]
