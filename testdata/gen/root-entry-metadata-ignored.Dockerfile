FROM scratch
ADD root-entry-metadata-ignored.tar /
CMD ["/bin/sh"]
