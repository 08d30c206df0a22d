FROM scratch
ADD old-gnu-sparse-S.tar /
CMD ["/bin/sh"]
