FROM scratch
ADD empty-dirs.tar /
CMD ["/bin/sh"]
