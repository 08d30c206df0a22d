FROM scratch
ADD dotdot-and-absolute-names.tar /
CMD ["/bin/sh"]
