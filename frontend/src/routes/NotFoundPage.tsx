import { NotFound } from "../components/NotFound";

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
