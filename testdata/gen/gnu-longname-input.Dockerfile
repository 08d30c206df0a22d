FROM scratch
ADD gnu-longname-input.tar /
CMD ["/bin/sh"]
