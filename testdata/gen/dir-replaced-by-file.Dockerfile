FROM scratch
ADD dir-replaced-by-file.tar /
CMD ["/bin/sh"]
