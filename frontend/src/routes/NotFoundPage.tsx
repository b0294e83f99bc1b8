import { NotFound } from "../components/layout/NotFound";

export default function NotFoundPage() {
  return (
    <NotFound
      problem="This address is not a page of the atlas."
      links={[
        { label: "The models", to: "/" },
        { label: "Upload an image", to: "/upload" },
      ]}
    />
  );
}
