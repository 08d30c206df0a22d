FROM scratch
ADD dir-dir-merge.tar /
CMD ["/bin/sh"]
