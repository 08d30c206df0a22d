FROM scratch
ADD compress-zstd-skippable-frame.tar.zst /
CMD ["/bin/sh"]
