FROM scratch
ADD xattr-overlay-opaque-dir.tar /
CMD ["/bin/sh"]
