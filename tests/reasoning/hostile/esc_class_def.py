# expect: gate
# a class with a finalizer
# message: class definitions
# ruff: noqa  (hostile on purpose: the test fills in {{...}} and runs it in the sandbox)
class Evil:
    def boom(self):
        return 1


print(Evil().boom())
