FROM scratch
ADD implied-parent-dirs.tar /
CMD ["/bin/sh"]
