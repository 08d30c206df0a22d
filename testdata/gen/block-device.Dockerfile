FROM scratch
ADD block-device.tar /
CMD ["/bin/sh"]
