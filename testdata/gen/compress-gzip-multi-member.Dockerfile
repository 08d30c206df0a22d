FROM scratch
ADD compress-gzip-multi-member.tar.gz /
CMD ["/bin/sh"]
