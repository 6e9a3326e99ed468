"""Well-behaved Open Energy client on ib1-openenergy-support's FAPISession (the seed's code):
see common.Reader."""
import common

if __name__ == "__main__":
    common.main(common.Reader)
