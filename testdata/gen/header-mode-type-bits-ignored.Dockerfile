FROM scratch
ADD header-mode-type-bits-ignored.tar /
CMD ["/bin/sh"]
