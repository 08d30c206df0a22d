FROM scratch
ADD setuid-setgid-sticky.tar /
CMD ["/bin/sh"]
