FROM scratch
ADD fifo.tar /
CMD ["/bin/sh"]
