FROM scratch
ADD hardlink-direction-flip.tar /
CMD ["/bin/sh"]
