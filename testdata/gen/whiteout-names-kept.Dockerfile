FROM scratch
ADD whiteout-names-kept.tar /
CMD ["/bin/sh"]
