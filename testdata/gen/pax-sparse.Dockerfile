FROM scratch
ADD pax-sparse.tar /
CMD ["/bin/sh"]
