FROM scratch
ADD missing-end-marker.tar /
CMD ["/bin/sh"]
