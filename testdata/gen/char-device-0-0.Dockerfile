FROM scratch
ADD char-device-0-0.tar /
CMD ["/bin/sh"]
