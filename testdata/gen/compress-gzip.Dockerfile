FROM scratch
ADD compress-gzip.tar.gz /
CMD ["/bin/sh"]
