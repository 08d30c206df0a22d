FROM scratch
ADD v7-typeflag-nul.tar /
CMD ["/bin/sh"]
