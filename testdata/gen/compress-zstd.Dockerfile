FROM scratch
ADD compress-zstd.tar.zst /
CMD ["/bin/sh"]
