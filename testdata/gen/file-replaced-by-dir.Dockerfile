FROM scratch
ADD file-replaced-by-dir.tar /
CMD ["/bin/sh"]
