FROM scratch
ADD hardlink-chain-and-absolute.tar /
CMD ["/bin/sh"]
