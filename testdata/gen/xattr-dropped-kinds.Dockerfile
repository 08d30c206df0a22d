FROM scratch
ADD xattr-dropped-kinds.tar /
CMD ["/bin/sh"]
