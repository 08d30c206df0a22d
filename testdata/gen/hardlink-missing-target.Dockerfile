FROM scratch
ADD hardlink-missing-target.tar /
CMD ["/bin/sh"]
